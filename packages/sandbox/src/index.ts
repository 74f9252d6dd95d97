/** @module @virtos/sandbox */
export {};
