// args: --call wm
// exit: 1
// An RPC method returning a WeakMap: the result cannot cross the boundary.
export default { wm() { return new WeakMap(); } };
