// Imported by ../lazy.js: the very first web globals any code of the worker
// touches are used here, while this nested module evaluates.
console.log('child: the first console.log loads the console');
export const urlType = typeof URL;
export const href = new URL('b/c?x=1', 'https://example.com/a/').href;
