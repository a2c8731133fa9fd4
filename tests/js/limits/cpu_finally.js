// args: --cpu-ms 100
// exit: 1
export default { fetch() { for (;;) { try { for (;;) {} } finally { continue; } } } };
