/** @module @virtos/vault */
export {};
