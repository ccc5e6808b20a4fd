// Every test file may discover: refuse to run anywhere but inside the lab's client namespace,
// so no SSDP search can ever leave on the host's own network.
import { assertInLab } from './lab/lab.ts'

assertInLab()
