// args: --cpu-ms 100
// exit: 1
export default { fetch() { const s = "a".repeat(1<<20) + "b"; const n = "a".repeat(1<<19) + "c"; return new Response(String(s.indexOf(n))); } };
