// args: --wall-ms 100
// exit: 1
export default { fetch() { return new Promise(() => {}); } };
