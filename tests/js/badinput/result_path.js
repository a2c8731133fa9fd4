// args: --call nested
// exit: 1
// The path of an uncloneable value inside a result: the top-level is "value", so nested ones should start with it.
export default { nested() { return { a: [1, { b: new WeakSet() }] }; } };
