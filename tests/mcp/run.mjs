// Runs every end-to-end case: node run.mjs CORRAL_BIN
// Env: CASES=regex picks cases by name; VERBOSE=1 adds stacks, VERBOSE=0 hides stderr tails.
import { runAll } from './lib.mjs';

// A stray rejection (e.g. a transport closing under a finished case) must not end the run.
process.on('unhandledRejection', (e) => { console.log(`# unhandled rejection: ${String(e && e.message || e).split('\n')[0]}`); });
import './cases_exec.mjs';
import './cases_upstream.mjs';
import './cases_openapi.mjs';
import './cases_live.mjs';

const failed = await runAll();
process.exit(failed ? 1 : 0);
