export default { fetch() { const f = (n) => f(n + 1) + 1; try { f(0); } catch (e) { return new Response("caught " + e.name); } } };
