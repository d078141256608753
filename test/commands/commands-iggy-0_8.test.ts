// Commands end to end against iggy 0.8 (the scenarios are in scenarios.ts).
import { commandScenarios } from "./scenarios.js";

commandScenarios("iggy 0.8");
