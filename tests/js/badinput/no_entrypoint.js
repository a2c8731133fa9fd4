// args: --call hello --entrypoint Nope
// exit: 1
// A named entrypoint that the module does not export.
export class Real { hello() { return "hi"; } }
export default { hello() { return "hi"; } };
