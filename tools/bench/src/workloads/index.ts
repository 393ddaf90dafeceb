import type { Workload } from '../harness.js';
import { audioGriffinLim, audioLogMel } from './audio-dsp.js';
import { audioUNetSample, audioUNetTrain } from './audio.js';
import { meanFlow2dTrain, meanFlow2dTrainFm, meanFlowUNetTrain } from './meanflow.js';
import { mlp2dSample, mlp2dTrain } from './mlp2d.js';
import { unetSample, unetTrain } from './unet.js';

/** Every benchmark, in table order. A new workload is one more entry here. */
export const workloads: Workload[] = [mlp2dTrain, mlp2dSample, unetTrain, unetSample, meanFlow2dTrain, meanFlow2dTrainFm, meanFlowUNetTrain, audioUNetTrain, audioUNetSample, audioLogMel, audioGriffinLim];
