// args: --wall-ms 200
// exit: 1
// A handler whose promise never settles and that has nothing left to run
// is ended by the wall-time limit, not left hanging.
export default { fetch() { return new Promise(() => {}); } };
