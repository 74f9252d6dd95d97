/** @module @virtos/server */
export {};
