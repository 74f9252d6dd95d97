/** @module @virtos/runtime */
export {};
