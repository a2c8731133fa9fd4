// args: --memory-mb 32
// exit: 1
export default { fetch() { const a = []; for (;;) a.push({ x: [1, 2, 3] }); } };
