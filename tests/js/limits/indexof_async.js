// args: --cpu-ms 100
// exit: 1
// The backstop also reaches code run from a promise job and a timer.
export default { async fetch() { await null; await new Promise((r) => setTimeout(r, 1)); const s = "a".repeat(1 << 20) + "b"; return new Response(String(s.indexOf("a".repeat(1 << 19) + "c"))); } };
