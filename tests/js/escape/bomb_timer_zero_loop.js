// args: --cpu-ms 100 --wall-ms 5000
// exit: 1
// Zero-delay timers that each spin a little and schedule two more: the
// CPU limit (summed over turns) ends the invocation, not the wall clock.
export default { fetch() { const f = () => { for (let i = 0; i < 1e4; i++); setTimeout(f, 0); setTimeout(f, 0); }; f(); return new Promise(() => {}); } };
