// args: --cpu-ms 100
// exit: 1
export default { fetch() { return new Response(String(new Array(1e9).join().length)); } };
