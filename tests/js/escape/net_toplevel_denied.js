// Without --allow-net the top-level worker's fetch() reaches nothing:
// loopback, metadata addresses and every scheme reject with the same error.
export default {
  async fetch() {
    const out = [];
    for (const u of ["http://127.0.0.1:22/", "http://localhost/", "http://169.254.169.254/latest/meta-data/iam/",
      "http://[::1]:80/", "https://0x7f000001/", "file:///etc/passwd", "ftp://127.0.0.1/", "gopher://127.0.0.1:25/"]) {
      try { await fetch(u); out.push(u + " fetched"); }
      catch (e) { out.push(u + " -> " + e.name + ": " + e.message); }
    }
    return new Response(out.join("\n") + "\n");
  },
};
