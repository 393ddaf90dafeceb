export * from './digit-classifier.js';
