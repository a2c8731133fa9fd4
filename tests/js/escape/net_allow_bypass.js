// args: --allow-net=127.0.0.1:1 --call go
// With a lent network limited to 127.0.0.1:1, URL tricks that try to reach
// another host or port are refused before anything connects: userinfo that
// looks like a host, alternative spellings of loopback, default ports,
// and backslashes. Only loopback addresses are named.
export default {
  async go() {
    const out = [];
    for (const u of ["http://127.0.0.1:1@127.0.0.2/", "http://127.0.0.2\\@127.0.0.1:1/",
      "http://2130706434:1/", "http://0x7f.0.0.2:1/", "http://127.0.0.1/", "http://[::1]:1/", "https://127.0.0.1:1.127.0.0.2/"]) {
      try { await fetch(u); out.push("resolved " + u); }
      catch (e) { out.push(e.name + ": " + e.message); }
    }
    return out;
  },
};
