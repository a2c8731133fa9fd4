// args: --memory-mb 32
// exit: 1
export default { fetch() { return new Response(String(new ArrayBuffer(1 << 30).byteLength)); } };
