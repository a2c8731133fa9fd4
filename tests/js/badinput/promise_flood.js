// A chain of 100,000 promises, each resolved by the one before: completes.
export default {
  async fetch() {
    let p = Promise.resolve(0);
    for (let i = 0; i < 1e5; i++) p = p.then((x) => x + 1);
    return new Response(String(await p));
  },
};
