// Classifier-free guidance lives in core (images and audio both use it); re-exported here for existing imports.
export { classifierFreeGuidance, dropLabels, type GuidanceOptions } from '@flowmatch/core';
