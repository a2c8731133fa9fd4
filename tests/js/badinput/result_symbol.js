// args: --call sym
// exit: 1
// An RPC method returning a Symbol: the result cannot cross the boundary.
export default { sym() { return Symbol("x"); } };
