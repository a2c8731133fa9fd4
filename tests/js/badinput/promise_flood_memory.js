// args: --memory-mb 16
// exit: 1
// A million pending promises in a 16 MiB sandbox: the memory limit ends the
// invocation with its named error (the host carries on and exits 1).
export default {
  async fetch() {
    const ps = [];
    for (let i = 0; i < 1e6; i++) ps.push(new Promise(() => {}));
    await Promise.all(ps);
    return new Response("unreachable");
  },
};
