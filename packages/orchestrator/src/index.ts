/** @module @virtos/orchestrator */
export {};
