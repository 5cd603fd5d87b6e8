// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC2771Forwarder} from "@openzeppelin/contracts/metatx/ERC2771Forwarder.sol";

/// @title Benchmark anchor: OpenZeppelin's stock ERC-2771 forwarder, as it ships
/// @dev Only for `make bench`: a relayer pays the gas of members' signed requests (executeBatch), the
/// meta-transaction way to the same no-ETH experience the co-op's smart accounts give.
contract AnchorForwarder is ERC2771Forwarder {
    constructor() ERC2771Forwarder("AnchorForwarder") {}
}
