#!/usr/bin/env node
'use strict';
// The compiled command line; `npm ci` builds it through the `prepare` script.
const { run } = require('../dist/src/cli/main.js');

run(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  () => {
    process.exitCode = 1;
  },
);
