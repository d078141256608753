// Commands end to end against dev-iggy (the scenarios are in scenarios.ts).
import { commandScenarios } from "./scenarios.js";

commandScenarios("dev-iggy");
