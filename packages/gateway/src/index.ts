/** @module @virtos/gateway */
export {};
