"""Data readers and sources; importing this package registers the sources (one import per line)."""

import neuralab.data.binary_patterns
import neuralab.data.bit_patterns
import neuralab.data.coco_json
import neuralab.data.correlated_gaussian
import neuralab.data.currents
import neuralab.data.detection_scenes
import neuralab.data.envs
import neuralab.data.function1d
import neuralab.data.gaussian_mixture
import neuralab.data.image_patches
import neuralab.data.mnist1d
import neuralab.data.paired_images
import neuralab.data.self_play
import neuralab.data.seq2seq
import neuralab.data.sequence_tasks
import neuralab.data.series
import neuralab.data.sources
import neuralab.data.task_sequence
import neuralab.data.text_stream
import neuralab.data.tweets
import neuralab.data.vector_env
import neuralab.data.word_context
import neuralab.data.worked_example  # noqa: F401
