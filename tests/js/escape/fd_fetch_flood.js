// args: --allow-net=127.0.0.1:1 --call go
// exit: 1
// A thousand fetches started at once to a closed loopback port (each one a
// host socket) all settle with the same connection error, without the host
// running out of descriptors; the thousand-and-first hits the subrequest
// limit, which ends the invocation with its named error. (The time curl
// took to be refused varies, so it is masked.)
export default {
  async go() {
    const settled = await Promise.allSettled(Array.from({ length: 1000 }, () => fetch("http://127.0.0.1:1/")));
    const reasons = new Set(settled.map((s) => s.status + " " + (s.reason ? s.reason.name + ": " + s.reason.message.replace(/after \d+ ms/, "after N ms") : "")));
    console.log(settled.length + " settled: " + JSON.stringify([...reasons]));
    await fetch("http://127.0.0.1:1/");
    return "unreachable";
  },
};
