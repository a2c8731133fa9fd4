// args: --allow-net=127.0.0.1:1 --call go
// With a lent network limited to 127.0.0.1:1, every scheme but http and
// https is refused before anything connects: file, unix-socket forms, ftp,
// dict, gopher, ldap, telnet, data, blob and websocket URLs.
export default {
  async go() {
    const out = [];
    for (const u of ["file:///etc/passwd", "file://127.0.0.1:1/etc/passwd", "http+unix://%2Fvar%2Frun%2Fdocker.sock/info",
      "unix:///var/run/docker.sock", "ftp://127.0.0.1:1/", "dict://127.0.0.1:1/info", "gopher://127.0.0.1:1/_x",
      "ldap://127.0.0.1:1/", "telnet://127.0.0.1:1/", "data:text/plain,hello", "blob:http://127.0.0.1:1/x", "ws://127.0.0.1:1/"]) {
      try { await fetch(u); out.push("fetched " + u); }
      catch (e) { out.push(e.name + ": " + e.message); }
    }
    return out;
  },
};
