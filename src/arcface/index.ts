/**
 * ArcFace maths shared by training and inversion (Deng et al. 2019; Sub-center ArcFace, ECCV
 * 2020): margins, sub-centre pooling, the classifier head, normalisation and cosine.
 */
export * from './margin.js';
export * from './subcenter.js';
export * from './head.js';
export * from './normalize.js';
