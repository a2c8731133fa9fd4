// args: --allow-net=127.0.0.1,,localhost
// exit: 2
// A malformed --allow-net list stops the run before any code is loaded.
export default {
  async fetch() {
    return new Response('not reached');
  },
};
