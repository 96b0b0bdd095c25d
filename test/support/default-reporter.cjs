'use strict';
// jest's default progress reporter alone; its summary comes from summary-reporter.cjs (see there why).
module.exports = require('@jest/reporters').DefaultReporter;
