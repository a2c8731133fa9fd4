// args: --allow-net=127.0.0.1:1 --call go
// What the built-in client refuses before it connects anywhere: hosts and
// ports off the --allow-net list, schemes other than http and https. Only
// loopback addresses are named, so nothing leaves the machine even if a
// check were missing.
export default {
  async go() {
    const out = [];
    for (const u of ['http://127.0.0.2/', 'http://127.0.0.1:2/x', 'http://LOCALHOST:1/', 'ftp://127.0.0.1/', 'file:///etc/passwd']) {
      try {
        await fetch(u);
        out.push('resolved ' + u);
      } catch (e) {
        out.push(e.name + ': ' + e.message);
      }
    }
    return out;
  },
};
