// `npm run bench`: every benchmark, each printing its figures beside the peers it is compared with.
import { runConsoleBenchmark } from './console.mjs';
import { runExitsBenchmark } from './exits.mjs';
import { runDemoBenchmark } from './run-demo.mjs';
import { runLinuxBenchmark } from './linux.mjs';
import { runValidateBenchmark } from './validate.mjs';
import { runMeasureBenchmark } from './measure-digest.mjs';

runValidateBenchmark();
runMeasureBenchmark();
await runDemoBenchmark();
runExitsBenchmark();
runConsoleBenchmark();
await runLinuxBenchmark();
