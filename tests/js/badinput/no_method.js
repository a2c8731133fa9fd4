// args: --call nope
// exit: 1
// A method the entrypoint does not define.
export default { hello() { return "hi"; } };
