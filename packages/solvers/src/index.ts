// @flowmatch/solvers — ODE integration of velocity fields (sampling, inversion) and exact log-likelihoods.
export { uniformGrid, validateGrid, gridDirection, type TimeGrid } from './grid.js';
export {
  METHODS,
  FIXED_STEP_METHODS,
  registerMethod,
  listMethods,
  methodTableau,
  isAdaptive,
  EULER,
  MIDPOINT,
  HEUN,
  RK4,
  MEANFLOW,
  DOPRI5,
  evaluationsPerStep,
  stepsForNfe,
  type ButcherTableau,
  type MethodName,
  type BuiltinMethod,
} from './tableaus.js';
export {
  integrate,
  fixedStepGrid,
  DEFAULT_FIXED_STEPS,
  DEFAULT_RTOL,
  DEFAULT_ATOL,
  DEFAULT_MAX_STEPS,
  type OdeFunction,
  type IntegrateOptions,
  type IntegrateResult,
  type IntegratorStepInfo,
  type AdaptiveOptions,
} from './integrate.js';
export { sample, disposeSampleResult, type SampleOptions, type SampleResult, type SampleStepInfo } from './sample.js';
export { sampleLabelled, checkLabels, type LabelledSampleOptions, type LabelledModel, type SampleLabelledRequest } from './labelled.js';
export {
  logLikelihood,
  disposeLogLikelihoodResult,
  type LogLikelihoodOptions,
  type LogLikelihoodResult,
  type LogLikelihoodStepInfo,
  type DivergenceMethod,
  type ProbeDistribution,
} from './likelihood.js';
export { createSolver, type Solver } from './solver.js';
