// args: --cpu-ms 200
// exit: 1
export default { fetch() { /(a+)+$/.test("a".repeat(40) + "b"); return new Response("no"); } };
