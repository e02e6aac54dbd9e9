#!/usr/bin/env node
// The entry: a build goes to the local agent's warm worker when one takes it (agent/forward.ts
// loads only Node's net and fs); anything else, or a build the agent does not take, runs here.
import { forwardToAgent } from '../agent/forward.js';

const code = await forwardToAgent(process.argv.slice(2));
if (code === undefined) (await import('./main.js')).runCli(process.argv);
else process.exit(code);
