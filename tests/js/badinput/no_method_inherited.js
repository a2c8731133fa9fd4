// args: --call hasOwnProperty --args '["x"]'
// exit: 1
// Object.prototype methods are never RPC methods.
export default { hello() { return "hi"; } };
