// args: --memory-mb 16
// exit: 1
// A 1 GiB typed array is within QuickJS's length limit, so it is the
// memory limit that refuses it; catching the error does not save the sandbox.
export default { fetch() { try { new Uint8Array(2 ** 30); } catch (e) {} return new Response("survived"); } };
