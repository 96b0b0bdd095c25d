#!/usr/bin/env node
'use strict';
// The operator CLI runs from the TypeScript sources (tsx), so a clone needs no build step.
require('tsx/cjs/api').register();
require('../cli/main.ts')
  .main(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
  });
