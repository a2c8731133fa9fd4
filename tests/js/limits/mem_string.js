// args: --memory-mb 32
// exit: 1
export default { fetch() { let s = "x"; for (;;) s += s; } };
