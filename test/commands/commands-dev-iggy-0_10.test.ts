// Commands end to end against dev-iggy 0.10 (the scenarios are in scenarios.ts).
import { commandScenarios } from "./scenarios.js";

commandScenarios("dev-iggy 0.10");
