// args: --call hello
// exit: 1
// No default export at all.
export const hello = () => "hi";
