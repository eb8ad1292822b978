/**
 * Tests check what annals logs through loggers of their own; the default logger (warnings and
 * errors to the console) is silenced so that fault tests do not flood the output. Set
 * ANNALS_TEST_LOG=1 to see it.
 */
import { setDefaultLogger, silentLogger } from 'annals';

if (process.env.ANNALS_TEST_LOG !== '1') setDefaultLogger(silentLogger);
