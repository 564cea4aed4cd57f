// `npm run bench`: every benchmark, each printing its figures beside the peers it is compared with.
import { runValidateBenchmark } from './validate.mjs';

runValidateBenchmark();
