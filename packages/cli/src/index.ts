/** @module @virtos/cli */
export {};
